/** Hides the password of a database URL for logs. */
export function redactUrl(url: string): string {
  // The password ends at the last "@" of the authority (it may itself contain "@").
  return url.replace(/^([a-z][\w+.-]*:\/\/[^:/@]+):[^/]*@/i, '$1:***@')
}
