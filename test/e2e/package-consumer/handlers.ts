import { defineHandlers, PermanentJobError, type JobContext } from 'shoal/worker';

/** An application's handler module, as it would write it against the installed package. */
export const handlers = defineHandlers({
  async resize(payload: { url: string; width: number }, context: JobContext) {
    if (payload.width <= 0) throw new PermanentJobError('width must be positive', { code: 'BAD_WIDTH' });
    return { url: payload.url, width: payload.width, height: Math.round(payload.width * 0.75), by: context.workerId };
  },
  greet: (payload: { name: string }) => `hello ${payload.name}`,
});
