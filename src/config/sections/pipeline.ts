import * as v from 'valibot'
import { BUILTIN_PLUGINS } from '../../pipeline/builtins.ts'
import { list } from '../fields.ts'

/** `[pipeline]`: the plugin order of a Kakao turn, and where operator plugins live. */
export const pipelineSection = v.optional(
  v.strictObject({
    order: list([...BUILTIN_PLUGINS]),
    /** Operator plugins: `name = "./path/to/plugin.ts"` (relative to the config file). */
    paths: v.optional(v.record(v.string(), v.string()), {}),
  }),
  {},
)

/** `[plugins.<name>]`: options per plugin, validated by each plugin's own schema when the pipeline is built. */
export const pluginsSection = v.optional(v.record(v.string(), v.record(v.string(), v.unknown())), {})
