// Fault injection state of the test node. Modes:
//   refuse      stop listening (and drop open connections) for `seconds`
//   stall       accept requests but never answer those received during `seconds`
//   drop        answer the next `count` submissions normally but never include them
//   lose-reply  include the next `count` submissions but close the connection instead of replying
//   restart     save the state and exit (code 75); a wrapper or the test starts it again
// Set through the test RPC `test_fault` or the CLI (--fault mode:seconds|count, repeatable).
export const FAULT_MODES = ['refuse', 'stall', 'drop', 'lose-reply', 'restart'];
export const RESTART_EXIT_CODE = 75;
const MAX_FAULT_SECONDS = 3600;
const MAX_FAULT_COUNT = 100000;

export class Faults {
  constructor() {
    this.stallUntil = 0;
    this.dropCount = 0;
    this.loseReplyCount = 0;
  }

  // Validates a fault request; returns a normalised copy or throws.
  static parse(spec) {
    if (!spec || typeof spec !== 'object') throw new Error('fault must be an object {mode, seconds|count}');
    const mode = String(spec.mode);
    if (!FAULT_MODES.includes(mode)) throw new Error(`unknown fault mode ${mode}`);
    const seconds = Number(spec.seconds ?? 0);
    const count = Number(spec.count ?? 1);
    if (!(seconds >= 0 && seconds <= MAX_FAULT_SECONDS)) throw new Error('seconds out of range');
    if (!Number.isInteger(count) || count < 0 || count > MAX_FAULT_COUNT) throw new Error('count out of range');
    if ((mode === 'refuse' || mode === 'stall') && seconds === 0) throw new Error(`${mode} needs seconds > 0`);
    return { mode, seconds, count };
  }

  // CLI form: "stall:5", "drop:2", "restart".
  static parseCli(text) {
    const [mode, arg] = String(text).split(':');
    if (mode === 'refuse' || mode === 'stall') return Faults.parse({ mode, seconds: Number(arg) });
    return Faults.parse({ mode, count: arg === undefined ? 1 : Number(arg) });
  }

  isStalled(now = Date.now()) { return now < this.stallUntil; }

  // Consumes one drop / lose-reply token for a submission.
  takeDrop() { if (this.dropCount > 0) { this.dropCount--; return true; } return false; }
  takeLoseReply() { if (this.loseReplyCount > 0) { this.loseReplyCount--; return true; } return false; }

  status() {
    return { stalledForMs: Math.max(0, this.stallUntil - Date.now()), drop: this.dropCount, loseReply: this.loseReplyCount };
  }
}
