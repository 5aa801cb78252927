import * as v from 'valibot'
import { answerReply, failedReply } from '../../src/delivery/delivery.ts'
import { checkedTaskId, checkReply, quickReply, textResponse } from '../../src/kakao/response.ts'
import { shapeAnswer } from '../../src/kakao/shape.ts'
import { definePlugin } from '../../src/pipeline/types.ts'
import { logEvent } from '../../src/store/events.ts'
import { uuidOrNull } from '../../src/store/rows.ts'
import {
  latestUndelivered,
  latestWithRemaining,
  markDelivered,
  setRemainingText,
} from '../../src/store/task-delivery.ts'
import { getTask } from '../../src/store/tasks.ts'

/** Spaces and punctuation do not matter: "답변 확인", "답변확인!", "답변 확인해줘" are one request. */
const normalise = (s: string) => s.replace(/[\s.,!?~…·'"]+/g, '').toLowerCase()

const CHECK_WORDS = [
  '답변확인',
  '답변확인해줘',
  '답변확인해주세요',
  '답변확인하기',
  '답변보기',
  '생각다끝났나요',
  '답변왔나요',
]
const MORE_WORDS = ['자세히', '자세히보기', '더보기', '계속', '이어서']

/**
 * Serves answers the user has not seen: held because the callback expired or was refused, because the answer
 * came after the apology, or because there was no callback. Also serves the rest of a long answer ("자세히").
 */
export default definePlugin({
  name: 'late-answer',
  options: v.strictObject({
    /** How far back a held answer is still offered. */
    max_age_hours: v.optional(v.pipe(v.number(), v.minValue(1)), 24),
  }),
  setup(deps, options) {
    const check = new Set([...CHECK_WORDS, normalise(deps.messages.check_label)])
    const more = new Set([...MORE_WORDS, normalise(deps.messages.more_label)])
    return async (turn, next) => {
      const word = normalise(turn.utterance)
      const since = new Date(turn.receivedAt.getTime() - options.max_age_hours * 3_600_000)
      if (check.has(word)) {
        // The button names its task; typed text ("답변 확인") means the newest answer still waiting.
        const named = uuidOrNull(checkedTaskId(turn.clientExtra) ?? '')
        const pressed = named ? await getTask(deps.db, named) : null
        const task =
          pressed?.userId === turn.user.id ? pressed : await latestUndelivered(deps.db, turn.user.id, since)
        if (!task) {
          turn.reply = textResponse(deps.messages.nothing_to_check)
          return
        }
        if (task.status === 'pending' || task.status === 'processing') {
          turn.reply = textResponse(deps.messages.still_preparing, [
            checkReply(deps.messages.check_label, task.id),
          ])
          return
        }
        if (task.status === 'failed' || !task.aiResponse) {
          await markDelivered(deps.db, task.id, null)
          turn.reply = failedReply(deps.messages)
          return
        }
        const reply = answerReply(task.aiResponse, deps.messages)
        if (await markDelivered(deps.db, task.id, reply.remaining)) {
          await logEvent(deps.db, 'late_answer_served', turn.user.id, { task_id: task.id })
        }
        turn.reply = reply.response
        return
      }
      if (more.has(word)) {
        const task = await latestWithRemaining(deps.db, turn.user.id, since)
        if (!task?.remainingText) {
          turn.reply = textResponse(deps.messages.nothing_more)
          return
        }
        const { bubbles, remaining } = shapeAnswer(task.remainingText, { plain: true })
        await setRemainingText(deps.db, task.id, remaining)
        turn.reply = textResponse(bubbles, remaining ? [quickReply(deps.messages.more_label)] : [])
        return
      }
      await next()
    }
  },
})
