// The ApiError a registry claim was refused with (the test fails if it was not refused).

import { expect } from 'vitest';
import { ApiError } from '../../../agent/state/errors.js';

export async function refused(p: Promise<unknown>): Promise<ApiError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ApiError);
  return e as ApiError;
}
