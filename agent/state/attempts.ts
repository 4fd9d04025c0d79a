/**
 * A whole-host pass goes on past an object that fails: `attempt` runs one step and records its
 * failure as "what: why" in `failed` (what the reconcile log and metrics report).
 */
export function attempts(): { failed: string[]; attempt: (what: string, f: () => Promise<void>) => Promise<void> } {
  const failed: string[] = [];
  return {
    failed,
    attempt: async (what, f) => {
      try {
        await f();
      } catch (e) {
        failed.push(`${what}: ${(e as Error).message}`);
      }
    },
  };
}
