import { Elysia } from 'elysia'
import type { Config } from '../config.ts'
import { isAppError } from '../errors.ts'
import { usageReport } from '../services/usage.ts'
import type { Db } from '../store/db.ts'
import { requireAdmin } from './auth.ts'
import { errorResponse } from './errors.ts'
import { any, doc, ErrorBody } from './openapi-docs.ts'

/** `GET /admin/usage?from&to&by=day|user|prompt|model`: the same report as `kbot usage --json`. */
export function usageRoutes(deps: { config: Config; db: Db }) {
  return new Elysia().get(
    '/admin/usage',
    async ({ request }) => {
      const query = Object.fromEntries(new URL(request.url).searchParams)
      try {
        return await usageReport(deps.db, deps.config, query)
      } catch (err) {
        if (isAppError(err)) return errorResponse(err)
        throw err
      }
    },
    {
      beforeHandle: requireAdmin(() => deps.config.admin_token),
      detail: doc({
        tag: 'admin',
        admin: true,
        summary: 'Model calls, tokens and cost grouped by day, user, prompt or model',
        query: [
          { name: 'from', schema: { type: 'string' } },
          { name: 'to', schema: { type: 'string' } },
          {
            name: 'by',
            schema: { type: 'string', enum: ['day', 'user', 'prompt', 'model'], default: 'day' },
          },
        ],
        responses: { 200: any, 400: ErrorBody },
      }),
    },
  )
}
