import { Elysia } from 'elysia'
import type { Config } from '../config.ts'
import type { Metrics } from '../metrics/registry.ts'
import { requireBearer } from './auth.ts'

/** `GET /metrics` (Prometheus text): the admin token, or METRICS_TOKEN for a scraper that must not see /admin. */
export function metricsRoutes(deps: { config: Config; metrics: Metrics }) {
  return new Elysia().get(
    '/metrics',
    async () => {
      const { contentType, body } = await deps.metrics.render()
      return new Response(body, { headers: { 'content-type': contentType } })
    },
    {
      beforeHandle: requireBearer(() => [deps.config.admin_token, deps.config.metrics_token]),
      detail: {
        tags: ['admin'],
        summary: 'Prometheus metrics',
        description: 'Bearer ADMIN_TOKEN or METRICS_TOKEN.',
        security: [{ bearer: [] }],
        responses: {
          200: {
            description: 'Prometheus text format',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
          401: { description: 'Missing or wrong token' },
        },
      } as never,
    },
  )
}
