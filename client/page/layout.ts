/**
 * Spotlight and full screen on the tile grid: a click (or Enter/Space on a focused tile)
 * spotlights a tile, a second click on it goes back to the grid; a double-click (or F)
 * shows that tile full screen. The grid's sizing by count is pure CSS (styles.css).
 */

export class TileLayout {
  readonly #container: HTMLElement;

  constructor(container: HTMLElement) {
    this.#container = container;
    container.addEventListener('click', (event) => {
      const tile = this.#tileOf(event.target);
      if (tile !== null) this.toggleSpotlight(tile);
    });
    container.addEventListener('dblclick', (event) => {
      const tile = this.#tileOf(event.target);
      if (tile !== null) void this.fullScreen(tile);
    });
    container.addEventListener('keydown', (event) => {
      const tile = this.#tileOf(event.target);
      if (tile === null || event.target !== tile) return;
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        this.toggleSpotlight(tile);
      } else if (event.key === 'f' || event.key === 'F') {
        void this.fullScreen(tile);
      }
    });
  }

  toggleSpotlight(tile: HTMLElement): void {
    const on = tile.dataset['spotlight'] !== 'true';
    for (const other of this.#container.querySelectorAll<HTMLElement>('[data-spotlight]')) delete other.dataset['spotlight'];
    if (on) tile.dataset['spotlight'] = 'true';
    if (on) this.#container.dataset['spotlight'] = 'true';
    else delete this.#container.dataset['spotlight'];
  }

  /** Call when tiles come and go: a spotlight on a tile that left is dropped. */
  refresh(): void {
    if (this.#container.querySelector('[data-spotlight]') === null) delete this.#container.dataset['spotlight'];
  }

  async fullScreen(tile: HTMLElement): Promise<void> {
    try {
      if (document.fullscreenElement === tile) await document.exitFullscreen();
      else await tile.requestFullscreen();
    } catch {
      // Refused (an iframe without allowfullscreen, iOS): the spotlight is the next best.
    }
  }

  #tileOf(target: EventTarget | null): HTMLElement | null {
    // Our own preview stays where it is.
    return target instanceof Element ? target.closest<HTMLElement>('.tile:not(.local)') : null;
  }
}
