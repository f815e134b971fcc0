/**
 * Graceful, then forceful: the one shutdown rule of every long-running shoal
 * command. The first SIGINT or SIGTERM starts a graceful stop (drain, print
 * what there is); a second one, of either kind, forces the exit at once, as
 * an operator who presses Ctrl-C twice or a supervisor that repeats its
 * SIGTERM expects. Returns a function that stops listening.
 */
export interface ShutdownHandlers {
  graceful: (signal: NodeJS.Signals) => void;
  forced: (signal: NodeJS.Signals) => void;
}

const SHUTDOWN_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

export function onShutdownSignals(handlers: ShutdownHandlers): () => void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    received++;
    if (received === 1) handlers.graceful(signal);
    else handlers.forced(signal);
  };
  for (const signal of SHUTDOWN_SIGNALS) process.on(signal, onSignal);
  return () => {
    for (const signal of SHUTDOWN_SIGNALS) process.off(signal, onSignal);
  };
}

/** The exit code of a process ended by a signal, as shells report it (128 + its number). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGTERM' ? 143 : 130;
}
