/** Hand-drawn SVG charts: a bar chart and a line chart, no charting library (a few hundred bytes instead). */

export interface Point {
  label: string
  value: number | null
}

const W = 640
const H = 220
const PAD = { left: 56, right: 12, top: 12, bottom: 36 }

function scale(points: Point[]) {
  const max = Math.max(0, ...points.map((p) => p.value ?? 0))
  // A round top so the axis reads 0 / half / top with simple numbers.
  const magnitude = 10 ** Math.floor(Math.log10(max || 1))
  const top = Math.ceil((max || 1) / magnitude) * magnitude
  const innerW = W - PAD.left - PAD.right
  const innerH = H - PAD.top - PAD.bottom
  return {
    top,
    x: (i: number) => PAD.left + (innerW * (i + 0.5)) / Math.max(points.length, 1),
    y: (v: number) => PAD.top + innerH - (innerH * v) / top,
    step: innerW / Math.max(points.length, 1),
    innerH,
  }
}

function Axes(props: {
  top: number
  format: (n: number) => string
  points: Point[]
  x: (i: number) => number
}) {
  const every = Math.ceil(props.points.length / 8)
  return (
    <g class="axes">
      {[0, 0.5, 1].map((f) => {
        const y = PAD.top + (H - PAD.top - PAD.bottom) * (1 - f)
        return (
          <g key={f}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y} y2={y} class="grid" />
            <text x={PAD.left - 6} y={y + 4} text-anchor="end">
              {props.format(props.top * f)}
            </text>
          </g>
        )
      })}
      {props.points.map((p, i) =>
        i % every === 0 ? (
          <text key={p.label} x={props.x(i)} y={H - PAD.bottom + 18} text-anchor="middle">
            {p.label}
          </text>
        ) : null,
      )}
    </g>
  )
}

export function BarChart(props: {
  title: string
  points: Point[]
  format: (n: number) => string
  id?: string
}) {
  const s = scale(props.points)
  return (
    <figure class="chart" id={props.id}>
      <figcaption>{props.title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={props.title}>
        <Axes top={s.top} format={props.format} points={props.points} x={s.x} />
        {props.points.map((p, i) => {
          const v = p.value ?? 0
          const y = s.y(v)
          const w = Math.min(48, Math.max(2, s.step * 0.7))
          return (
            <rect
              key={p.label}
              class="bar"
              x={s.x(i) - w / 2}
              y={y}
              width={w}
              height={PAD.top + s.innerH - y}
            >
              <title>{`${p.label}: ${props.format(v)}`}</title>
            </rect>
          )
        })}
      </svg>
    </figure>
  )
}

export function LineChart(props: {
  title: string
  points: Point[]
  format: (n: number) => string
  id?: string
}) {
  const s = scale(props.points)
  // Hours without data break the line instead of pretending a zero.
  const segments: string[][] = [[]]
  props.points.forEach((p, i) => {
    if (p.value === null) segments.push([])
    else segments[segments.length - 1]!.push(`${s.x(i).toFixed(1)},${s.y(p.value).toFixed(1)}`)
  })
  return (
    <figure class="chart" id={props.id}>
      <figcaption>{props.title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={props.title}>
        <Axes top={s.top} format={props.format} points={props.points} x={s.x} />
        {segments
          .filter((seg) => seg.length > 0)
          .map((seg) => (
            <polyline key={seg[0]} class="line" points={seg.join(' ')} />
          ))}
        {props.points.map((p, i) =>
          p.value === null ? null : (
            <circle key={p.label} class="dot" cx={s.x(i)} cy={s.y(p.value)} r={3}>
              <title>{`${p.label}: ${props.format(p.value)}`}</title>
            </circle>
          ),
        )}
      </svg>
    </figure>
  )
}
