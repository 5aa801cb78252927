// Loaded before every test file (bunfig.toml). Tests never read the developer's own configuration.
process.env.KBOT_CONFIG = ''
process.env.TZ = 'UTC'
