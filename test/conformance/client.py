#!/usr/bin/python3
"""A shoal client in Python (Debian's python3-pika), written from
infra/transport/PROTOCOL.md alone: it calls a running pool over RabbitMQ and
prints what it saw as one JSON object, for test/integration/python-conformance.test.ts
to judge.

Usage: client.py AMQP_URL NAMESPACE

The pool must be up (a worker has declared its queues): a client does not
declare them, it publishes with `mandatory` and would get the request back if
the queue did not exist.
"""
import json
import sys
import time
import uuid

import pika

REPLY_TO = "amq.rabbitmq.reply-to"
PROTOCOL_VERSION = 1


class Client:
    def __init__(self, url, namespace):
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()  # a publish returns once the broker has the request
        self.request_queue = namespace + ".requests"
        self.dead_queue = namespace + ".dead"
        self.replies = {}
        # Direct reply-to: consume it in no-ack mode, on the publishing channel, before the first publish.
        self.channel.basic_consume(REPLY_TO, self._on_reply, auto_ack=True)

    def _on_reply(self, _channel, _method, properties, body):
        self.replies[properties.correlation_id] = {
            "body": json.loads(body),
            "contentType": properties.content_type,
            "protocol": (properties.headers or {}).get("shoal-protocol"),
        }

    def publish(self, body, timeout_ms, version=PROTOCOL_VERSION, job=None):
        """Publishes one request; returns its correlation id."""
        correlation_id = str(uuid.uuid4())
        sent_at = int(time.time() * 1000)
        self.channel.basic_publish(
            exchange="",
            routing_key=self.request_queue,
            body=body,
            mandatory=True,
            properties=pika.BasicProperties(
                message_id=correlation_id,
                correlation_id=correlation_id,
                reply_to=REPLY_TO,
                content_type="application/json",
                delivery_mode=2,
                type=job,
                timestamp=sent_at // 1000,
                # The queue drops a request nobody took in time; the deadline header says the same to the worker.
                expiration=str(timeout_ms),
                headers={"shoal-protocol": version, "shoal-sent-at": sent_at, "shoal-deadline": sent_at + timeout_ms},
            ),
        )
        return correlation_id

    def wait(self, correlation_id, timeout_ms):
        """The reply to a request, or None when none came within the timeout."""
        deadline = time.monotonic() + timeout_ms / 1000
        while correlation_id not in self.replies and time.monotonic() < deadline:
            self.connection.process_data_events(time_limit=min(0.05, max(0.0, deadline - time.monotonic())))
        return self.replies.pop(correlation_id, None)

    def call(self, job, payload, timeout_ms=5000):
        body = json.dumps({"job": job, "payload": payload}).encode()
        return self.wait(self.publish(body, timeout_ms, job=job), timeout_ms)

    def dead_letters(self):
        """What the pool dead-lettered: correlation id -> the x-death reason."""
        found = {}
        while True:
            method, properties, _body = self.channel.basic_get(self.dead_queue, auto_ack=True)
            if method is None:
                return found
            deaths = (properties.headers or {}).get("x-death") or [{}]
            reason = deaths[0].get("reason")
            found[properties.correlation_id] = reason.decode() if isinstance(reason, bytes) else reason


def main():
    url, namespace = sys.argv[1], sys.argv[2]
    client = Client(url, namespace)
    seen = {}

    # A good request, and a job with a payload schema.
    seen["echo"] = client.call("echo", {"hello": "from python", "n": [1, 2, 3]})
    seen["sleep"] = client.call("sleep", {"ms": 10})

    # Bad requests: each gets a clear error reply.
    seen["unknownJob"] = client.call("no-such-job", None)
    seen["badPayload"] = client.call("sleep", {"ms": -1})
    seen["malformedJson"] = client.wait(client.publish(b"{not json", 5000), 5000)
    seen["badRequest"] = client.wait(client.publish(json.dumps({"payload": 1}).encode(), 5000), 5000)
    seen["newerVersion"] = client.wait(client.publish(json.dumps({"job": "echo", "payload": 1}).encode(), 10000, version=PROTOCOL_VERSION + 1), 10000)

    # A timeout: the single worker is busy for 2 s, so a request with a 300 ms
    # timeout expires unanswered, and ends in the dead-letter queue instead of running late.
    busy = client.publish(json.dumps({"job": "sleep", "payload": {"ms": 2000}}).encode(), 10000, job="sleep")
    expiring = client.publish(json.dumps({"job": "echo", "payload": "too late"}).encode(), 300, job="echo")
    seen["expiredReply"] = client.wait(expiring, 300)
    seen["busyReply"] = client.wait(busy, 10000)
    seen["expiredReplyLater"] = client.wait(expiring, 1500)  # the worker is free now: still nothing
    time.sleep(0.5)  # dead-lettering is asynchronous
    dead = client.dead_letters()
    seen["dead"] = {"expired": dead.get(expiring), "count": len(dead)}

    client.connection.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
