import * as v from 'valibot'
import { textResponse } from '../../src/kakao/response.ts'
import { shapeAnswer } from '../../src/kakao/shape.ts'
import { definePlugin } from '../../src/pipeline/types.ts'
import { queueSafetyAlert } from '../../src/safety/alert.ts'
import { classify } from '../../src/safety/classify.ts'
import { operatorLexicon } from '../../src/safety/lexicon.ts'
import { SAFETY_SYSTEM_PROMPT } from '../../src/safety/prompt.ts'
import { crisisReply } from '../../src/safety/reply.ts'
import { insertMessage } from '../../src/store/messages.ts'
import { ensurePrompt, flagConversation } from '../../src/store/safety.ts'

/**
 * Counselling safety (SPEC §12). A message that says the writer wants to die, hurts themselves or is being
 * hurt is answered here at once — a short, warm reply with the help lines, no model call — and the
 * conversation is flagged: `crisis_flagged` in eventlog, an alert for a person, and every later turn of the
 * conversation answered by the model under the safety prompt. The words are data (lexicon/*.json).
 */
export default definePlugin({
  name: 'crisis-guard',
  options: v.strictObject({
    /** Operator lexicon files (JSON, same shape as lexicon/*.json), relative to the config file. */
    extra_lexicon: v.optional(v.array(v.pipe(v.string(), v.minLength(1))), []),
  }),
  setup(deps, options) {
    const { db, config } = deps
    // Read once at start: a broken operator file stops the server with its name, not a turn later.
    const lexicon = operatorLexicon(config.configDir, options.extra_lexicon)
    let promptReady = false

    /** The safety prompt exists before the first flagged conversation's next turn needs it. */
    const seedPrompt = async () => {
      if (promptReady) return
      if (await ensurePrompt(db, config.safety.prompt, SAFETY_SYSTEM_PROMPT, 'crisis-guard 안전 프롬프트'))
        deps.prompts.invalidate()
      promptReady = true
    }

    return async (turn, next) => {
      const found = classify(lexicon, turn.utterance)
      if (found.kinds.length === 0) {
        if (turn.conversation.flaggedAt) turn.promptName = config.safety.prompt
        return next()
      }
      const now = deps.now()
      const text = crisisReply(config.safety, found.kinds, turn.user.name)
      // The flag, both turns (so the model sees what was said and answered) and the alert: all or nothing.
      const { conversation, alerted } = await db.tx(async (tx) => {
        const flagged = await flagConversation(tx, turn.conversation.id, found.kinds, now)
        await insertMessage(tx, {
          convId: flagged.conversation.id,
          role: 'user',
          content: turn.utterance,
          createdAt: now,
        })
        await insertMessage(tx, {
          convId: flagged.conversation.id,
          role: 'assistant',
          content: text,
          createdAt: new Date(now.getTime() + 1),
        })
        // One alert per new kind in a conversation: a person is told, not paged for every message.
        const alert =
          flagged.added.length > 0
            ? await queueSafetyAlert(tx, {
                source: 'lexicon',
                kinds: flagged.added,
                evidence: found.matched,
                conversationId: flagged.conversation.id,
                userId: turn.user.id,
                userName: turn.user.name,
                at: now,
              })
            : null
        return { conversation: flagged.conversation, alerted: alert !== null }
      })
      turn.conversation = conversation
      turn.log.warn(
        {
          conversationId: conversation.id,
          kinds: found.kinds,
          rules: found.matched.map((m) => m.rule),
          alerted,
        },
        'crisis flagged: answered with help lines',
      )
      // Kakao refuses a bubble over 1000 characters; an operator's long text is split rather than lost.
      turn.reply = textResponse(shapeAnswer(text, { plain: true, maxBubbles: 3 }).bubbles)
      await seedPrompt().catch((err) => turn.log.error({ err }, 'could not seed the safety prompt'))
    }
  },
})
