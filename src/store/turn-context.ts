import {
  type Conversation,
  firstConversationCtes,
  openConversation,
  toConversation,
} from './conversations.ts'
import type { Db } from './db.ts'
import { type PromptVersion, toPrompt } from './prompts.ts'
import { newId } from './rows.ts'
import type { Row } from './tasks.ts'
import { type AppUser, insertUser, insertUserCtes, toUser, type UserKey } from './users.ts'

export interface ReturningContext {
  user: AppUser
  /** The open conversation within the session timeout, or null (the turn opens a new one). */
  conversation: Conversation | null
  /** A task with this request id or callbackUrl exists (whose, findDuplicate tells): rare, looked at apart. */
  maybeDuplicate: boolean
}

const CONVERSATION_COLUMNS = [
  'id',
  'user_id',
  'started_at',
  'last_activity_at',
  'ended_at',
  'crisis_kinds',
  'flagged_at',
]

/**
 * What the ack needs to know before it answers a returning user, in ONE read: the user, their open
 * conversation (idle less than the session timeout), and whether the request id or callbackUrl was seen
 * before. Null for a user never seen (the turn takes the slower path that creates them). Nothing is written:
 * the conversation is touched by the turn's enqueue statement.
 */
export async function loadReturning(
  db: Db,
  key: UserKey,
  cutoff: Date,
  dup: { requestId: string | null; callbackUrl: string | null },
): Promise<ReturningContext | null> {
  // A correlated subquery rather than a lateral join: SQLite has none, and it uses the same index.
  const rows = await db.query<Row>(
    `select u.*, ${conversationColumns},
       (select 1 from aiprocessingtask where request_id = $3 limit 1) as dup_request,
       (select 1 from aiprocessingtask where callback_url = $4 limit 1) as dup_callback
       from appuser u
       left join conversation c on c.id = (
         select o.id from conversation o
          where o.user_id = u.id and o.ended_at is null and o.last_activity_at > $5
          order by o.started_at desc limit 1)
      where u.bot_id = $1 and u.kakao_user_id = $2`,
    [key.botId, key.kakaoUserId, dup.requestId, dup.callbackUrl, cutoff],
  )
  const row = rows[0]
  if (!row) return null
  return {
    user: toUser(row),
    conversation: conversationOf(row),
    maybeDuplicate: row.dup_request != null || row.dup_callback != null,
  }
}

/**
 * A user /skill did not find (or found with another plusfriendUserKey), written without reading it again;
 * one created here also gets their first conversation (a user created now has none to end or touch). On
 * PostgreSQL one statement — the user, `user_created`, the conversation, `conversation_started` — on SQLite
 * one transaction; one commit either way. `conversation` is null when the user existed (another request created them meanwhile, or only the
 * plusfriendUserKey changed): the caller finds their conversation.
 */
export async function insertUserForTurn(
  db: Db,
  key: UserKey,
  now: Date,
): Promise<{ user: AppUser; conversation: Conversation | null }> {
  if (db.dialect !== 'postgres')
    return db.tx(async (tx) => {
      const { user, created } = await insertUser(tx, key, now)
      return { user, conversation: created ? await openConversation(tx, user.id, now, null) : null }
    })
  const first = firstConversationCtes({
    id: '$7',
    userId: 'u.id',
    at: '$5',
    eventId: '$8',
    from: 'from u where u.id = $1',
  })
  const rows = await db.query<Row>(
    `with ${insertUserCtes}, ${first} select u.*, ${conversationColumns} from u left join c on true`,
    [newId(), key.botId, key.kakaoUserId, key.plusfriendUserKey ?? null, now, newId(), newId(), newId()],
  )
  return { user: toUser(rows[0]!), conversation: conversationOf(rows[0]!) }
}

/** What a stored turn's prompt needs when a worker composes it (prompt-resolver). */
export interface ComposeContext {
  /** The prompt's active version, or null (none yet: the built-in default is used). */
  prompt: PromptVersion | null
  /** The user's current name: a name told after the ack is used. */
  userName: string | null
  summary: string | null
}

/**
 * The worker-time reads of a turn, in ONE statement: the prompt's active version, the user's current name and
 * their summary, read fresh (the worker may be another instance than the one that took the turn). One round
 * trip on one connection, where three reads at once took three of the pool's and waited for the slowest.
 */
export async function loadComposeContext(
  db: Db,
  promptName: string,
  userId: string,
): Promise<ComposeContext> {
  const rows = await db.query<Row>(
    `select p.*, (select name from appuser where id = $2) as k_user_name,
            (select summary from usersummary where user_id = $2) as k_summary
       from (select 1 as one) o left join prompttemplate p on p.name = $1 and p.is_active = $3`,
    [promptName, userId, true],
  )
  const row = rows[0]!
  return {
    prompt: row.id != null ? toPrompt(row) : null,
    userName: row.k_user_name == null ? null : String(row.k_user_name),
    summary: row.k_summary == null ? null : String(row.k_summary),
  }
}

const conversationColumns = CONVERSATION_COLUMNS.map((c) => `c.${c} as c_${c}`).join(', ')

/** The conversation of a row that carries one as `c_<column>`, or null. */
function conversationOf(row: Row): Conversation | null {
  const c: Row = {}
  for (const col of CONVERSATION_COLUMNS) c[col] = row[`c_${col}`]
  return c.id ? toConversation(c) : null
}
