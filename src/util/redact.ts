/** Hides the password of a database URL for logs: in the user info (also with no user) and in the query. */
export function redactUrl(url: string): string {
  let out = url
  const scheme = /^[a-z][\w+.-]*:\/\//i.exec(url)
  if (scheme) {
    const rest = url.slice(scheme[0].length)
    const slash = rest.indexOf('/')
    const authority = slash < 0 ? rest : rest.slice(0, slash)
    // The password ends at the last "@" of the authority (it may itself contain "@").
    const at = authority.lastIndexOf('@')
    const colon = authority.indexOf(':')
    if (at >= 0 && colon >= 0 && colon < at)
      out = `${scheme[0]}${authority.slice(0, colon)}:***${rest.slice(at)}`
  }
  return out.replace(/([?&](?:password|sslpassword|pass|pwd)=)[^&#]*/gi, '$1***')
}
