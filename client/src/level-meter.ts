/**
 * The level of a local microphone, 0..1, from Web Audio (no DOM): the pre-join meter and
 * the own tile's speaking highlight read it. One AnalyserNode on the track; nothing is
 * played out.
 */

export class LevelMeter {
  readonly #context: AudioContext;
  readonly #analyser: AnalyserNode;
  readonly #source: MediaStreamAudioSourceNode;
  readonly #buffer: Float32Array<ArrayBuffer>;

  constructor(track: MediaStreamTrack) {
    this.#context = new AudioContext();
    this.#source = this.#context.createMediaStreamSource(new MediaStream([track]));
    this.#analyser = this.#context.createAnalyser();
    this.#analyser.fftSize = 1024;
    this.#buffer = new Float32Array(this.#analyser.fftSize);
    this.#source.connect(this.#analyser);
  }

  /** Root mean square of the last few milliseconds, 0..1. */
  level(): number {
    // A context started without a user gesture may be suspended; resuming is harmless.
    if (this.#context.state === 'suspended') void this.#context.resume().catch(() => undefined);
    this.#analyser.getFloatTimeDomainData(this.#buffer);
    let sum = 0;
    for (const v of this.#buffer) sum += v * v;
    return Math.sqrt(sum / this.#buffer.length);
  }

  close(): void {
    this.#source.disconnect();
    void this.#context.close().catch(() => undefined);
  }
}
