import { dirname, join } from 'node:path'
import { Elysia } from 'elysia'

// swagger-ui-dist ships the viewer prebuilt; its version is pinned by bun.lock, so what runs on /docs is reviewed.
const DIST = dirname(Bun.resolveSync('swagger-ui-dist/package.json', import.meta.dir))

const ASSETS: Record<string, string> = {
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
}

/** The /docs viewer's script and stylesheet, served from node_modules (no CDN, works offline). */
export function docsAssets() {
  return new Elysia().get(
    '/docs/assets/:file',
    ({ params }) => {
      const type = ASSETS[params.file]
      if (!type)
        return Response.json({ error: { code: 'NOT_FOUND', message: 'no such asset' } }, { status: 404 })
      return new Response(Bun.file(join(DIST, params.file)), {
        headers: { 'content-type': type, 'cache-control': 'public, max-age=86400' },
      })
    },
    { detail: { hide: true } },
  )
}
