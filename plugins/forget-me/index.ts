import * as v from 'valibot'
import { quickReply, textResponse } from '../../src/kakao/response.ts'
import { confirmationOf, isForgetRequest } from '../../src/memory/forget-words.ts'
import { definePlugin } from '../../src/pipeline/types.ts'
import { forgetUserById } from '../../src/services/users.ts'
import { logEvent } from '../../src/store/events.ts'
import { setForgetUntil } from '../../src/store/forget.ts'
import { fill } from '../../src/texts.ts'

/** What the quick replies send, whatever labels the operator chose: the parser always knows these. */
const CONFIRM_TEXT = '삭제할게요'
const CANCEL_TEXT = '취소'

/**
 * "대화 기록 삭제" (and natural variants): asks for a confirmation with two quick replies and, on "삭제할게요",
 * erases every row of the user (messages, summary, prompt logs, tasks, events, the name and the user row) in
 * one transaction. The pending question lives in the database (appuser.forget_until) with an expiry, so the
 * answer may reach another instance; any other message drops the question and is answered as usual.
 */
export default definePlugin({
  name: 'forget-me',
  options: v.strictObject({
    /** How long the confirmation question stays open. */
    confirm_minutes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1440)), 5),
  }),
  setup(deps, options) {
    const { db, messages } = deps
    const labels = { confirm: messages.forget_confirm_label, cancel: messages.forget_cancel_label }
    const buttons = [quickReply(labels.confirm, CONFIRM_TEXT), quickReply(labels.cancel, CANCEL_TEXT)]
    return async (turn, next) => {
      const now = deps.now()
      const pending = turn.user.forgetUntil != null && turn.user.forgetUntil > now
      if (isForgetRequest(turn.utterance)) {
        const until = new Date(now.getTime() + options.confirm_minutes * 60_000)
        await db.tx(async (tx) => {
          await setForgetUntil(tx, turn.user.id, until, now)
          await logEvent(tx, 'forget_requested', turn.user.id)
        })
        turn.reply = textResponse(fill(messages.forget_confirm, { confirm: labels.confirm }), buttons)
        return
      }
      if (!pending) return next()
      const answer = confirmationOf(turn.utterance, labels)
      if (answer === 'yes') {
        const erased = await forgetUserById(db, turn.user.id)
        turn.log.info({ erased }, 'user erased at their request')
        turn.reply = textResponse(messages.forget_done)
        return
      }
      await db.tx(async (tx) => {
        const user = await setForgetUntil(tx, turn.user.id, null, now)
        if (user) turn.user = user
        if (answer === 'no') await logEvent(tx, 'forget_cancelled', turn.user.id)
      })
      if (answer === 'no') {
        turn.reply = textResponse(messages.forget_cancelled)
        return
      }
      await next()
    }
  },
})
