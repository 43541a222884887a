// ItemList owns the <ul id="items"> of the list page: it adds rows cloned
// from the server-rendered <template id="item-row"> (so the markup has one
// source, the Go template) and keeps the empty-state message in step.
import type { Item } from "./api";

export class ItemList {
  private constructor(
    private readonly ul: HTMLUListElement,
    private readonly empty: HTMLElement | null,
    private readonly template: HTMLTemplateElement,
  ) {}

  static find(): ItemList | null {
    const ul = document.getElementById("items");
    const template = document.getElementById("item-row");
    if (!(ul instanceof HTMLUListElement) || !(template instanceof HTMLTemplateElement)) return null;
    return new ItemList(ul, document.getElementById("empty"), template);
  }

  /** Adds a row at the top, marked as saving, for an item not stored yet. */
  addPending(name: string): HTMLLIElement {
    const row = this.clone();
    row.classList.add("pending");
    row.setAttribute("aria-busy", "true");
    const link = row.querySelector<HTMLAnchorElement>(".item-name");
    if (link) {
      // Not a link until the item has an id.
      const span = document.createElement("span");
      span.className = "item-name";
      span.textContent = name;
      link.replaceWith(span);
    }
    const meta = row.querySelector(".meta");
    if (meta) meta.textContent = "Saving…";
    row.querySelector("form")?.remove();
    this.ul.prepend(row);
    this.sync();
    return row;
  }

  /** Replaces a pending row with the stored item. */
  confirm(pending: HTMLLIElement, item: Item): HTMLLIElement {
    const row = this.clone();
    this.fill(row, item);
    pending.replaceWith(row);
    this.sync();
    return row;
  }

  remove(row: HTMLElement): void {
    row.remove();
    this.sync();
  }

  /** Hides a row while its deletion is in flight. */
  hide(row: HTMLElement): void {
    row.hidden = true;
    this.sync();
  }

  show(row: HTMLElement): void {
    row.hidden = false;
    this.sync();
  }

  /** Rewrites a row with an item's current state. */
  fill(row: HTMLElement, item: Item): void {
    const id = String(item.id);
    row.dataset.id = id;
    const link = row.querySelector<HTMLAnchorElement>("a.item-name");
    if (link) {
      link.href = `/items/${id}`;
      link.textContent = item.name;
    }
    const by = row.querySelector(".item-by");
    if (by) by.textContent = item.created_by;
    const time = row.querySelector("time");
    if (time) {
      time.dateTime = item.created_at;
      time.textContent = formatTime(item.created_at);
    }
    const form = row.querySelector<HTMLFormElement>("form[data-enhance=delete]");
    if (form) {
      form.action = `/items/${id}/delete`;
      form.dataset.id = id;
      form.dataset.version = String(item.version);
    }
    const label = row.querySelector(".item-label");
    if (label) label.textContent = item.name;
  }

  /** The row or the heading to focus after a row goes away. */
  neighbour(row: HTMLElement): HTMLElement | null {
    let next = row.nextElementSibling ?? row.previousElementSibling;
    while (next instanceof HTMLElement && next.hidden) {
      next = next.nextElementSibling;
    }
    return next?.querySelector<HTMLElement>("a.item-name") ?? document.getElementById("list-heading");
  }

  private clone(): HTMLLIElement {
    const row = this.template.content.firstElementChild?.cloneNode(true);
    if (!(row instanceof HTMLLIElement)) throw new Error("item-row template has no <li>");
    return row;
  }

  private sync(): void {
    const visible = Array.from(this.ul.children).some((li) => !(li as HTMLElement).hidden);
    this.ul.hidden = !visible;
    if (this.empty) this.empty.hidden = visible;
  }
}

/** Formats an RFC 3339 UTC time the way the server does: 2006-01-02 15:04 UTC. */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())} UTC`;
}
