// The rate chart: download and upload rate over the last five minutes, as two SVG polylines.

export type Sample = { time: number; down: number; up: number };

const WIDTH = 300;
const HEIGHT = 60;
const WINDOW_MS = 5 * 60_000;

export function drawChart(svg: SVGSVGElement, samples: readonly Sample[]): void {
  const now = samples.at(-1)?.time ?? 0;
  const top = Math.max(1, ...samples.map((sample) => Math.max(sample.down, sample.up)));
  const line = (pick: (sample: Sample) => number, colour: string) => {
    const points = samples.map((sample) => `${(WIDTH - ((now - sample.time) / WINDOW_MS) * WIDTH).toFixed(1)},${(HEIGHT - (pick(sample) / top) * (HEIGHT - 4)).toFixed(1)}`);
    return `<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${points.join(" ")}"/>`;
  };
  svg.innerHTML = line((sample) => sample.down, "#3a7") + line((sample) => sample.up, "#36c");
}
