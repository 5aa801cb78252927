import type { Db } from '../store/db.ts'
import { getTask, type Task } from '../store/tasks.ts'

/**
 * `waitFor` for the inline path: resolves as soon as this instance finishes the task (`settle`), or when the
 * database shows it finished by another instance, or with null after `ms`.
 */
export function createWaiters(db: Db) {
  const waiters = new Map<string, Set<(task: Task) => void>>()
  return {
    settle(task: Task): void {
      const set = waiters.get(task.id)
      if (!set) return
      waiters.delete(task.id)
      for (const resolve of set) resolve(task)
    },

    waitFor(taskId: string, ms: number): Promise<Task | null> {
      return new Promise((resolve) => {
        const set = waiters.get(taskId) ?? new Set<(task: Task) => void>()
        waiters.set(taskId, set)
        const done = (task: Task | null) => {
          clearTimeout(timer)
          clearInterval(check)
          set.delete(onTask)
          if (set.size === 0 && waiters.get(taskId) === set) waiters.delete(taskId)
          resolve(task)
        }
        const onTask = (task: Task) => done(task)
        set.add(onTask)
        // Another instance may finish it: look in the database now and then, and once more at the end.
        const look = async () => {
          const task = await getTask(db, taskId).catch(() => null)
          return task && (task.status === 'completed' || task.status === 'failed') ? task : null
        }
        const check = setInterval(() => {
          void look().then((task) => task && done(task))
        }, 500)
        const timer = setTimeout(() => void look().then(done), ms)
      })
    },
  }
}
