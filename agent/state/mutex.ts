// Runs tasks one at a time: every change to desired state and the kernel goes through one queue,
// so a Put, a Delete and the periodic reconcile never interleave.
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
