// Bun's bundler emits imported CSS as its own file; the import has no value.
declare module '*.css'
