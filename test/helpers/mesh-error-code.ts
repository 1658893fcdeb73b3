/**
 * The outcome of a piece of work as a MeshError code, for tests that assert which refusal they
 * got: the code it was rejected with, `not a MeshError: …` for any other failure, or `no error`.
 */
import { MeshError } from '../../core/errors.js'

export async function meshErrorCode (work: Promise<unknown>): Promise<string> {
  try {
    await work
  } catch (err) {
    return err instanceof MeshError ? err.code : `not a MeshError: ${String(err)}`
  }
  return 'no error'
}
