import * as v from 'valibot'
import { quickReply, textResponse } from '../../src/kakao/response.ts'
import { parseNameIntent, validateName } from '../../src/names/extract.ts'
import { definePlugin, type Turn } from '../../src/pipeline/types.ts'
import type { Db } from '../../src/store/db.ts'
import { logEvent } from '../../src/store/events.ts'
import { type AppUser, isAwaitingName, setNameState, setUserName } from '../../src/store/users.ts'
import { fill } from '../../src/texts.ts'

/** What saving a name did: nothing (it was already the name), or a change from `old`. */
type Saved = { same: true } | { same: false; old: string | null }

/**
 * Names and name commands (SPEC §7). Recognises introductions ("내 이름은 민수야", "길동이라고 불러줘"),
 * `/이름`, "이름 바꿔" and 취소, and keeps the "waiting for a name" state in the database, with an expiry,
 * so that the answer may reach another instance or arrive after a restart.
 *
 * An introduction alone is answered here; one that also asks something ("내 이름은 민수야, 오늘 날씨 어때?")
 * saves the name and goes on, so the model already sees it.
 */
export default definePlugin({
  name: 'name-command',
  options: v.strictObject({
    /** How long "what should I call you?" stays open; afterwards the next message is an ordinary one. */
    await_minutes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1440)), 5),
  }),
  setup(deps, options) {
    const { db, messages } = deps
    // The quick reply always sends 취소, which the parser knows, whatever label the operator chose.
    const cancelButton = [quickReply(messages.name_cancel_label, '취소')]

    /** Changes the state and writes its event in one transaction, so the log never disagrees with the row. */
    const setState = (turn: Turn, awaiting: boolean, event: 'name_requested' | 'name_cancelled' | null) => {
      const now = deps.now()
      const until = awaiting ? new Date(now.getTime() + options.await_minutes * 60_000) : null
      return db.tx(async (tx: Db): Promise<AppUser> => {
        const user = await setNameState(tx, turn.user.id, awaiting ? 'awaiting' : 'none', until, now)
        if (event)
          await logEvent(tx, event, user.id, event === 'name_requested' ? { current: turn.user.name } : {})
        return user
      })
    }

    const save = async (turn: Turn, name: string, pattern: string): Promise<Saved> => {
      const old = turn.user.name
      if (old === name) {
        // Saying the same name again is no change: no eventlog row, but it does answer a pending question.
        if (turn.user.nameState !== 'none') turn.user = await setState(turn, false, null)
        return { same: true }
      }
      turn.user = await db.tx(async (tx) => {
        const user = await setUserName(tx, turn.user.id, name, deps.now())
        await logEvent(tx, 'name_changed', user.id, { old, new: name, pattern })
        return user
      })
      turn.log.debug({ pattern }, 'user name changed')
      return { same: false, old }
    }

    const confirmation = (saved: Saved, name: string) =>
      saved.same
        ? fill(messages.name_same, { name })
        : saved.old === null
          ? fill(messages.name_set, { name })
          : fill(messages.name_changed, { name, old: saved.old })

    /** An invalid name: say the rule and wait for a better one. */
    const refuse = async (turn: Turn, reason: string) => {
      turn.user = await setState(turn, true, null)
      turn.reply = textResponse(fill(messages.name_invalid, { reason }), cancelButton)
    }

    return async (turn, next) => {
      // An expired question counts as none: a late "나연이야" is then an ordinary message.
      const awaiting = isAwaitingName(turn.user, deps.now())
      const intent = parseNameIntent(turn.utterance, { awaiting })
      switch (intent.kind) {
        case 'ask': {
          const current = turn.user.name
          turn.user = await setState(turn, true, 'name_requested')
          const text =
            current === null ? messages.name_ask : fill(messages.name_ask_change, { name: current })
          turn.reply = textResponse(text, cancelButton)
          return
        }
        case 'cancel': {
          turn.user = await setState(turn, false, 'name_cancelled')
          turn.reply = textResponse(messages.name_cancelled)
          return
        }
        case 'set': {
          const { valid, reason } = validateName(intent.name)
          if (!valid) return refuse(turn, reason!)
          turn.reply = textResponse(confirmation(await save(turn, intent.name, 'command'), intent.name))
          return
        }
        case 'introduce': {
          // "난 민수야" from someone we already call 길동 is more likely banter than a request to rename.
          if (!intent.explicit && !awaiting && turn.user.name !== null) return next()
          const { valid, reason } = validateName(intent.name)
          if (!valid) {
            // An implicit candidate that is not a valid name was probably not meant as one.
            if (intent.explicit || awaiting) return refuse(turn, reason!)
            return next()
          }
          const saved = await save(turn, intent.name, intent.pattern)
          if (intent.rest !== '') return next()
          turn.reply = textResponse(confirmation(saved, intent.name))
          return
        }
        case 'none': {
          if (!awaiting) return next()
          turn.reply = textResponse(messages.name_retry, cancelButton)
          return
        }
      }
    }
  },
})
