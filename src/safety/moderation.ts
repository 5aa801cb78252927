/**
 * The second opinion (SAFETY_MODERATION): OpenAI's moderation endpoint, through the SDK. It does not decide
 * the reply; a positive verdict that the lexicon missed flags the conversation for a person.
 */
import type OpenAI from 'openai'
import type { Db } from '../store/db.ts'
import { flagConversation, setTaskModeration } from '../store/safety.ts'
import { type QueuedAlert, queueSafetyAlert } from './alert.ts'
import type { CrisisKind } from './lexicon.ts'

/** The categories kbot records, and the crisis kind each one stands for. */
const WATCHED: Record<string, CrisisKind> = {
  'self-harm': 'self_harm',
  'self-harm/intent': 'self_harm',
  'self-harm/instructions': 'self_harm',
  violence: 'abuse',
  'violence/graphic': 'abuse',
  'sexual/minors': 'abuse',
}

export interface ModerationVerdict {
  model: string
  /** True when a watched category is set (the endpoint's own `flagged` also covers hate, spam, …). */
  flagged: boolean
  kinds: CrisisKind[]
  /** Watched categories only: name → set, and name → score. */
  categories: Record<string, boolean>
  scores: Record<string, number>
}

/** Asks the moderation endpoint about one text. Errors are the SDK's (the caller decides whether to retry). */
export async function moderate(
  client: Pick<OpenAI, 'moderations'>,
  text: string,
  model = 'omni-moderation-latest',
): Promise<ModerationVerdict> {
  const res = await client.moderations.create({ model, input: text })
  const result = res.results[0]
  const categories: Record<string, boolean> = {}
  const scores: Record<string, number> = {}
  for (const name of Object.keys(WATCHED)) {
    categories[name] = Boolean((result?.categories as unknown as Record<string, boolean> | undefined)?.[name])
    scores[name] = Number(
      (result?.category_scores as unknown as Record<string, number> | undefined)?.[name] ?? 0,
    )
  }
  const kinds = [
    ...new Set(
      Object.keys(WATCHED)
        .filter((n) => categories[n])
        .map((n) => WATCHED[n]!),
    ),
  ]
  return { model: res.model ?? model, flagged: kinds.length > 0, kinds, categories, scores }
}

/**
 * Records a verdict on its task and, when it names a kind the conversation is not yet flagged for, flags it
 * and queues an alert (source "moderation"). Only a person is told: no Kakao callback is sent from here, so
 * the user still gets exactly one. Returns the alert, or null when there was nothing new.
 */
export async function applyModeration(
  db: Db,
  input: {
    taskId: string
    conversationId: string
    userId: string
    userName: string | null
    verdict: ModerationVerdict
    now: Date
  },
): Promise<QueuedAlert | null> {
  const { verdict } = input
  return db.tx(async (tx) => {
    await setTaskModeration(tx, input.taskId, { ...verdict })
    if (!verdict.flagged) return null
    const flagged = await flagConversation(tx, input.conversationId, verdict.kinds, input.now)
    if (flagged.added.length === 0) return null
    return queueSafetyAlert(tx, {
      source: 'moderation',
      kinds: flagged.added,
      evidence: Object.keys(verdict.categories)
        .filter((c) => verdict.categories[c])
        .map((c) => ({ kind: WATCHED[c]!, rule: `moderation:${c}`, text: verdict.scores[c]!.toFixed(3) })),
      conversationId: input.conversationId,
      userId: input.userId,
      userName: input.userName,
      at: input.now,
    })
  })
}
