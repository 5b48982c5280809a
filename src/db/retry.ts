import { isRetryableTransactionError } from "./errors.js";

/**
 * Runs `work` again when MySQL chose it as a deadlock victim or its lock wait timed out — the
 * server rolled it back whole, so running it again is safe. Bounded: a few attempts with a short
 * jittered pause.
 */
export async function retryTransient<T>(work: () => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts || !isRetryableTransactionError(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 10));
    }
  }
}
