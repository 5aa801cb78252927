import type OpenAI from 'openai'

type OpenAIModule = typeof import('openai')

let sdk: typeof OpenAI | null = null

/**
 * The openai SDK, loaded the first time it is needed (a model call, a moderation check, classifying a
 * failure) instead of when kbot starts: evaluating it costs about 50 ms, a sixth of the start-up budget
 * (SPEC §10: ready in ≤ 300 ms), and an instance without a key or with workers off never needs it.
 * Synchronous on purpose (Bun's require loads an ES module too), so that its callers stay synchronous.
 */
export function openaiSdk(): typeof OpenAI {
  // The ES module by its file: a bare require('openai') would load the package's CommonJS build, a second
  // copy whose error classes are not the ones `import 'openai'` (tests, plugins) throws and checks against.
  sdk ??= (require('openai/index.mjs') as OpenAIModule).default
  return sdk
}
