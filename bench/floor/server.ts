/**
 * The floor: the least work a durable Kakao ack can do on this machine, measured beside kbot in the same run
 * (the reference is described in the project's perf notes; this is our own copy of the same work).
 *
 * Parses the SkillPayload, runs ONE statement that inserts the user message and the task and wakes a worker,
 * and answers the useCallback ack. No user lookup, no dedupe, no worker.
 *
 *   FLOOR_DB=postgres://…  FLOOR_SCHEMA=…  bun bench/floor/server.ts   (Bun's built-in SQL, 8 connections)
 *   FLOOR_DB=sqlite:/tmp/floor.db          bun bench/floor/server.ts   (bun:sqlite, WAL, synchronous=NORMAL as kbot)
 *
 * Logs one JSON line `{"msg":"floor listening","url":…}` on stderr when it serves.
 */
import { Database } from 'bun:sqlite'
import { SQL } from 'bun'

const db = process.env.FLOOR_DB ?? ''
const ack = JSON.stringify({
  version: '2.0',
  useCallback: true,
  data: { text: 'AI가 답변을 생성하고 있어요!' },
})

type Insert = (userKey: string, utterance: string, callbackUrl: string | null) => Promise<void> | void

async function pgInsert(url: string, schema: string): Promise<Insert> {
  const sql = new SQL({ url, max: Number(process.env.FLOOR_POOL ?? 8) })
  const t = (name: string) => `${schema}.${name}`
  await sql.unsafe(`drop table if exists ${t('floor_task')}; drop table if exists ${t('floor_message')};
    create table ${t('floor_message')} (id uuid primary key, user_key text not null, body text not null,
      created_at timestamptz not null default now());
    create table ${t('floor_task')} (id uuid primary key, msg_id uuid not null references ${t('floor_message')}(id),
      callback_url text, status text not null default 'pending', deadline timestamptz not null,
      created_at timestamptz not null default now());
    create index on ${t('floor_task')} (status, deadline);`)
  const statement = `with m as (insert into ${t('floor_message')} (id, user_key, body) values ($1, $2, $3) returning id),
      t as (insert into ${t('floor_task')} (id, msg_id, callback_url, deadline)
            select $4, m.id, $5, now() + interval '55 seconds' from m returning id)
    select pg_notify('floor_task', t.id::text) from t`
  return async (userKey, utterance, callbackUrl) => {
    await sql.unsafe(statement, [Bun.randomUUIDv7(), userKey, utterance, Bun.randomUUIDv7(), callbackUrl])
  }
}

function sqliteInsert(path: string): Insert {
  const lite = new Database(path, { create: true })
  lite.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000')
  lite.exec(`drop table if exists floor_task; drop table if exists floor_message;
    create table floor_message (id text primary key, user_key text not null, body text not null,
      created_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ')));
    create table floor_task (id text primary key, msg_id text not null references floor_message(id),
      callback_url text, status text not null default 'pending', deadline text not null,
      created_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ')));
    create index floor_task_status on floor_task (status, deadline);`)
  const message = lite.query('insert into floor_message (id, user_key, body) values (?1, ?2, ?3)')
  const task = lite.query(
    'insert into floor_task (id, msg_id, callback_url, deadline) values (?1, ?2, ?3, ?4)',
  )
  // SQLite has no NOTIFY; one process owns the file, so the wake-up is in-process (free). One transaction.
  const both = lite.transaction((userKey: string, utterance: string, callbackUrl: string | null) => {
    const id = Bun.randomUUIDv7()
    message.run(id, userKey, utterance)
    task.run(Bun.randomUUIDv7(), id, callbackUrl, new Date(Date.now() + 55_000).toISOString())
  })
  return (userKey, utterance, callbackUrl) => {
    both(userKey, utterance, callbackUrl)
  }
}

const insert = db.startsWith('sqlite:')
  ? sqliteInsert(db.slice('sqlite:'.length))
  : await pgInsert(db, process.env.FLOOR_SCHEMA ?? 'public')

const server = Bun.serve({
  port: Number(process.env.PORT ?? 0),
  hostname: '127.0.0.1',
  async fetch(req) {
    if (new URL(req.url).pathname === '/health') return new Response('{"status":"ok"}')
    const body = (await req.json().catch(() => null)) as {
      userRequest?: { utterance?: unknown; user?: { id?: unknown }; callbackUrl?: unknown }
    } | null
    const ur = body?.userRequest
    if (typeof ur?.utterance !== 'string' || typeof ur.user?.id !== 'string')
      return new Response('{"error":"bad"}', { status: 400 })
    await insert(ur.user.id, ur.utterance, typeof ur.callbackUrl === 'string' ? ur.callbackUrl : null)
    return new Response(ack, { headers: { 'content-type': 'application/json' } })
  },
})
console.error(JSON.stringify({ msg: 'floor listening', url: `http://127.0.0.1:${server.port}` }))
