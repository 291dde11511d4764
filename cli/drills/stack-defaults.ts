import { readStackState, type StackState } from '../../stack/stack-state.js';
import { UsageError } from '../exit-codes.js';

/**
 * The `redscope up` running on a state directory, read once and only when a
 * flag is missing: a drill against another deployment, every flag given,
 * never looks at the local stack.
 */
export class StackDefaults {
  private state: StackState | undefined;
  private read = false;

  constructor(readonly dir: string) {}

  /** The running stack, or undefined when none runs on the directory. */
  get(): StackState | undefined {
    if (!this.read) {
      this.state = readStackState(this.dir);
      this.read = true;
    }
    return this.state;
  }

  /**
   * The flag's value when given, else what `pick` takes from the running
   * stack; neither: a UsageError naming the flag and the directory.
   */
  value<T>(flag: string, given: T | undefined, pick: (state: StackState) => T | undefined): T {
    if (given !== undefined) return given;
    const state = this.get();
    const value = state ? pick(state) : undefined;
    if (value !== undefined) return value;
    throw new UsageError(
      state
        ? `no ${flag}, and the \`redscope up\` running in ${this.dir} (pid ${state.pid}, ${state.mode} mode) has none to offer`
        : `no ${flag} and no running \`redscope up\` in ${this.dir} (give ${flag}, or --state-dir DIR of a running stack)`,
    );
  }
}
