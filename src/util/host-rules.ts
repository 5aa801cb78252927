// Which callback URLs kbot may POST to (CALLBACK_ALLOWED_HOSTS). Pure, so that config validation can use it.

export interface HostRule {
  scheme: 'https:' | 'http:'
  /** Lower-case host; a leading "*." matches any subdomain (not the bare domain). */
  host: string
  /** null: the scheme's default port only. */
  port: string | null
}

/** Parses CALLBACK_ALLOWED_HOSTS entries: `[scheme://]host[:port]`, https unless a scheme is named. */
export function parseHostRules(entries: readonly string[]): HostRule[] {
  return entries.map((entry) => {
    const m = /^(?:(https?):\/\/)?(\*\.)?([a-z0-9.-]+|\[[0-9a-f:]+\])(?::(\d+))?\/?$/i.exec(entry.trim())
    if (!m) throw new Error(`CALLBACK_ALLOWED_HOSTS entry is not [scheme://]host[:port]: ${entry}`)
    return {
      scheme: (m[1]?.toLowerCase() === 'http' ? 'http:' : 'https:') as HostRule['scheme'],
      host: `${m[2] ?? ''}${m[3]!.toLowerCase()}`,
      // A URL reports no port for its scheme's default, so ":443" on https (":80" on http) means "default".
      port: m[4] === undefined || m[4] === (m[1]?.toLowerCase() === 'http' ? '80' : '443') ? null : m[4],
    }
  })
}

/**
 * Whether kbot may POST to this callbackUrl. Anything else is never requested: a payload could otherwise make
 * kbot call internal addresses (server-side request forgery).
 */
export function isCallbackAllowed(url: string, rules: readonly HostRule[]): boolean {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return false
  }
  if (parsed.username || parsed.password) return false
  const host = parsed.hostname.toLowerCase()
  return rules.some((rule) => {
    if (rule.scheme !== parsed.protocol) return false
    if ((rule.port ?? '') !== parsed.port) return false
    if (rule.host.startsWith('*.'))
      return host.endsWith(rule.host.slice(1)) && host.length > rule.host.length - 1
    return host === rule.host
  })
}
