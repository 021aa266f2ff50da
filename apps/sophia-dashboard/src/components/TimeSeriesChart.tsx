import { type MouseEvent, useId, useState } from 'react';

export type Series<T> = { label: string; color: string; value: (row: T) => number };

type Props<T> = {
  title: string;
  rows: readonly T[];
  date: (row: T) => string;
  series: readonly Series<T>[];
  formatValue: (value: number) => string;
  /** The first series is drawn as a filled area as well. */
  area?: boolean;
};

const WIDTH = 760;
const HEIGHT = 260;
const PAD = { top: 16, right: 16, bottom: 28, left: 72 };
const PLOT_W = WIDTH - PAD.left - PAD.right;
const PLOT_H = HEIGHT - PAD.top - PAD.bottom;

/** A hand-drawn SVG line chart: a charting library would triple the bundle for two lines. */
export function TimeSeriesChart<T>(props: Props<T>) {
  const titleId = useId();
  const [hover, setHover] = useState<number | null>(null);
  const { rows, series } = props;
  const max = niceMax(Math.max(0, ...rows.flatMap((row) => series.map((s) => s.value(row)))));
  const x = (i: number) => PAD.left + (rows.length <= 1 ? 0 : (i / (rows.length - 1)) * PLOT_W);
  const y = (v: number) => PAD.top + PLOT_H - (max === 0 ? 0 : (v / max) * PLOT_H);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * max);
  const months = rows.flatMap((row, i) => (props.date(row).endsWith('-01') ? [i] : []));

  const onMove = (event: MouseEvent<SVGSVGElement>) => {
    const box = event.currentTarget.getBoundingClientRect();
    if (box.width === 0 || rows.length === 0) return;
    const svgX = ((event.clientX - box.left) / box.width) * WIDTH;
    const index = Math.round(((svgX - PAD.left) / PLOT_W) * (rows.length - 1));
    setHover(Math.min(rows.length - 1, Math.max(0, index)));
  };
  const hovered = hover === null ? undefined : rows[hover];

  return (
    <figure className="chart card">
      <figcaption id={titleId} className="chart-title">
        {props.title}
        <span className="legend">
          {series.map((s) => (
            <span key={s.label} className="legend-item">
              <i style={{ background: s.color }} />
              {s.label}
            </span>
          ))}
        </span>
      </figcaption>
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-labelledby={titleId}
        onMouseMove={onMove}
        onMouseLeave={() => setHover(null)}
      >
        <title>{props.title}</title>
        {ticks.map((t) => (
          <g key={t} className="grid">
            <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y(t)} y2={y(t)} />
            <text x={PAD.left - 8} y={y(t)} dy="0.32em" textAnchor="end">
              {props.formatValue(t)}
            </text>
          </g>
        ))}
        {months.map((i) => (
          <text key={i} className="axis" x={x(i)} y={HEIGHT - 8} textAnchor="middle">
            {monthLabel(props.date(rows[i] as T))}
          </text>
        ))}
        {props.area && series[0] && (
          <path
            className="area"
            d={`${linePath(rows, series[0].value, x, y)} L${x(rows.length - 1)},${y(0)} L${x(0)},${y(0)} Z`}
            fill={series[0].color}
          />
        )}
        {series.map((s) => (
          <path
            key={s.label}
            className="line"
            data-series={s.label}
            d={linePath(rows, s.value, x, y)}
            stroke={s.color}
          />
        ))}
        {hovered !== undefined && hover !== null && (
          <line className="cursor" x1={x(hover)} x2={x(hover)} y1={PAD.top} y2={PAD.top + PLOT_H} />
        )}
      </svg>
      <p className="chart-readout" aria-live="polite">
        {hovered === undefined
          ? `${rows.length} days · hover the chart for daily values`
          : `${props.date(hovered)} · ${series.map((s) => `${s.label}: ${props.formatValue(s.value(hovered))}`).join(' · ')}`}
      </p>
    </figure>
  );
}

function linePath<T>(
  rows: readonly T[],
  value: (row: T) => number,
  x: (i: number) => number,
  y: (v: number) => number,
): string {
  return rows
    .map((row, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(value(row)).toFixed(1)}`)
    .join(' ');
}

/** Rounds the axis maximum up to 1, 2, 2.5 or 5 times a power of ten, so the tick labels read well. */
export function niceMax(value: number): number {
  if (value <= 0) return 0;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((m) => m * magnitude >= value) ?? 10;
  return step * magnitude;
}

const monthLabel = (isoDate: string) =>
  new Date(`${isoDate}T00:00:00Z`).toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
