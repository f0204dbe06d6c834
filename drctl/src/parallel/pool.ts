/**
 * Runs at most `concurrency` of the tasks handed to the returned function at once, in the order
 * they were handed over.
 */
export function limiter(concurrency: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  // A finished task hands its slot straight to the next waiter, so no newcomer can slip in between.
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running >= concurrency) await new Promise<void>((r) => waiting.push(r));
    else running++;
    try {
      return await task();
    } finally {
      release();
    }
  };
}

/** Maps `items` through `fn`, `concurrency` at a time; rejects with the first failure. */
export async function mapLimit<I, O>(
  items: readonly I[],
  concurrency: number,
  fn: (item: I) => Promise<O>,
): Promise<O[]> {
  const limit = limiter(concurrency);
  return Promise.all(items.map((item) => limit(() => fn(item))));
}
