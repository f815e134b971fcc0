import { ObservationWindow, type WindowOptions } from '../metrics/window.js';
import type { Sample } from '../metrics/types.js';
import type { Observation } from '../policy/index.js';
import { ControlStep, type ControlStepOptions, type Plan } from './control-step.js';
import type { MemberView } from './members.js';

export interface ControlLoopOptions extends ControlStepOptions {
  window: WindowOptions;
}

/**
 * Samples in, plans out: the observation window (metrics/window.ts) smooths
 * the samples, the control step decides. The live autoscaler and the
 * simulator each own one and feed it their samples, so both take the same
 * decisions from the same samples (test/unit/control-equivalence.test.ts).
 */
export class ControlLoop {
  private readonly window: ObservationWindow;
  private readonly step: ControlStep;
  private lastObservation: Observation | undefined;

  constructor(options: ControlLoopOptions) {
    this.window = new ObservationWindow(options.window);
    this.step = new ControlStep(options);
  }

  /**
   * One control tick. `sample` is undefined between metrics polls: the step
   * then decides on the last observation (sample and hold).
   */
  tick(now: number, sample: Sample | undefined, members: readonly MemberView[]): Plan {
    if (sample || !this.lastObservation) {
      if (sample) this.window.add(sample);
      this.lastObservation = this.window.observe(now);
    }
    return this.step.step(now, this.lastObservation, members);
  }
}
