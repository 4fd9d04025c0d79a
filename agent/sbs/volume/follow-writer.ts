// Leadership follows the writer. A volume's client is usually one VM or one host, and the path
// through the leader is the short one: a follower must forward every write (one more hop, and
// CPU on both ends), and NBD has no way to redirect a client. So the leader counts where the
// writes come from, and when nearly all of them have come through one follower for a while it
// hands leadership to that follower. Pure: the replica feeds it counts and the time.

/** One window of counts. */
const WINDOW_MS = 500;
/** Consecutive windows in which one follower must dominate. */
const WINDOWS = 2;
/** Fewer writes than this in a window are no reason to move. */
const MIN_WRITES = 64;
/** The follower's writes must outnumber the leader's own clients' this many times. */
const RATIO = 4;
/** Between two hand-overs: two writers on two hosts must not bounce leadership to and fro. */
const COOLDOWN_MS = 5000;

export class WriterFollower {
  private local = 0;
  private readonly forwarded = new Map<string, number>();
  private windowStart: number;
  private candidate: string | null = null;
  private windows = 0;
  private lastMove = -Infinity;

  constructor(now: number) {
    this.windowStart = now;
  }

  /** Writes from this replica's own clients. */
  wrote(n: number): void {
    this.local += n;
  }

  /** Writes a follower on `host` forwarded here. */
  forwardedFrom(host: string, n: number): void {
    this.forwarded.set(host, (this.forwarded.get(host) ?? 0) + n);
  }

  /** Called often (every tick); at the end of a window, the host leadership should pass to, if any. */
  decide(now: number): string | null {
    if (now - this.windowStart < WINDOW_MS) return null;
    let top: [string, number] | null = null;
    for (const e of this.forwarded) if (!top || e[1] > top[1]) top = e;
    const dominant = top !== null && top[1] >= MIN_WRITES && top[1] > RATIO * this.local ? top[0] : null;
    this.forwarded.clear();
    this.local = 0;
    this.windowStart = now;
    if (dominant === null) {
      this.candidate = null;
      this.windows = 0;
      return null;
    }
    this.windows = dominant === this.candidate ? this.windows + 1 : 1;
    this.candidate = dominant;
    if (this.windows < WINDOWS || now - this.lastMove < COOLDOWN_MS) return null;
    this.lastMove = now;
    this.windows = 0;
    return dominant;
  }

  /** Leadership changed hands: counts from before say nothing about the new leader's clients. */
  reset(now: number): void {
    this.forwarded.clear();
    this.local = 0;
    this.candidate = null;
    this.windows = 0;
    this.windowStart = now;
  }
}
