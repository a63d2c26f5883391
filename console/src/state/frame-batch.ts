/**
 * Batches work per animation frame: many events within one frame cost one update of the page. A
 * hidden tab gets no animation frames, so a timer flushes too, keeping the queue bounded there.
 */

/** A queue of items handled together once per frame. */
export class FrameBatch<T> {
  readonly #handle: (items: T[]) => void;
  #items: T[] = [];
  #frame = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(handle: (items: T[]) => void) {
    this.#handle = handle;
  }

  /** Adds an item; the batch runs at the next frame. */
  push(item: T): void {
    this.#items.push(item);
    if (this.#frame !== 0) return;
    this.#frame = requestAnimationFrame(this.#flush);
    this.#timer = setTimeout(this.#flush, 500);
  }

  readonly #flush = (): void => {
    cancelAnimationFrame(this.#frame);
    clearTimeout(this.#timer);
    this.#frame = 0;
    const items = this.#items;
    this.#items = [];
    if (items.length > 0) this.#handle(items);
  };
}
