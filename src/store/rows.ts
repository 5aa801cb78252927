/** Row converters shared by the repositories: PostgreSQL returns Date/boolean/objects, SQLite text/0-1/text. */

export const toDate = (value: unknown): Date => (value instanceof Date ? value : new Date(String(value)))

export const toDateOrNull = (value: unknown): Date | null =>
  value === null || value === undefined ? null : toDate(value)

export const toBool = (value: unknown): boolean =>
  value === true || value === 1 || value === '1' || value === 't'

export const toNumOrNull = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value)

export function toJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T
}

export const newId = (): string => Bun.randomUUIDv7()

/** UUIDs from the outside (URLs) are checked before they reach a uuid column, which would reject them loudly. */
export const isUuid = (value: string): boolean =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)

/** An id from the outside in the form the database holds (lower case), or null when it is not a UUID. */
export const uuidOrNull = (value: string): string | null => (isUuid(value) ? value.toLowerCase() : null)
