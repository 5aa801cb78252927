const patterns = new WeakMap<readonly unknown[], { re: RegExp; method: string }[]>()

/**
 * The methods registered for a path (Elysia route syntax, `:param` and `*`), so that a known path asked with another
 * method gets 405 rather than 404. Compiled once per route list.
 */
export function allowedMethods(
  routes: readonly { method: string; path: string }[],
  pathname: string,
): string[] {
  let compiled = patterns.get(routes)
  if (!compiled) {
    compiled = routes.map((r) => ({
      method: r.method.toUpperCase(),
      re: new RegExp(
        `^${r.path
          .split('/')
          .map((seg) =>
            seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
          )
          .join('/')}/?$`,
      ),
    }))
    patterns.set(routes, compiled)
  }
  const methods = new Set(
    compiled.filter((c) => c.method !== 'ALL' && c.re.test(pathname)).map((c) => c.method),
  )
  if (methods.has('GET')) methods.add('HEAD')
  return [...methods].sort()
}
