import type OpenAI from 'openai'

type OpenAIModule = typeof import('openai')

let sdk: typeof OpenAI | null = null

/**
 * The openai SDK, loaded when it is first needed: by createAiClient when an API key is set (at start, not on
 * the first model call, where evaluating it stalled live acks), by classifyFailure for a failure. Without a
 * key it never loads: evaluating it costs about 50 ms of a CLI command's or a keyless instance's start.
 * Synchronous on purpose (Bun's require loads an ES module too), so that its callers stay synchronous.
 */
export function openaiSdk(): typeof OpenAI {
  // The ES module by its file: a bare require('openai') would load the package's CommonJS build, a second
  // copy whose error classes are not the ones `import 'openai'` (tests, plugins) throws and checks against.
  sdk ??= (require('openai/index.mjs') as OpenAIModule).default
  return sdk
}
