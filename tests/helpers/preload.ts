// Loaded before every test file (bunfig.toml). Tests never read the developer's own configuration.
import { afterAll } from 'bun:test'
import { installExitHandlers, releaseAll } from './cleanup.ts'

process.env.KBOT_CONFIG = ''
process.env.TZ = 'UTC'

// Whatever a test file registered (processes, clusters, temp dirs) is released after the run, and at exit or
// Ctrl-C; test files that start processes also release after themselves (afterAll(releaseAll)).
installExitHandlers()
afterAll(releaseAll)
