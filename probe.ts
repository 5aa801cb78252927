import { classify } from './src/safety/classify.ts'
import { loadLexicon } from './src/safety/lexicon.ts'

const lex = loadLexicon()
for (const t of process.argv.slice(2)) console.log(t, '→', JSON.stringify(classify(lex, t)))
