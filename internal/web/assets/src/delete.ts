// Delete without a full reload. Without JavaScript each row's Delete
// button opens the confirmation page; with it, the first press arms the
// button ("Confirm delete") and the second deletes through the API with
// If-Match, hiding the row at once and restoring it if the server refuses
// (for instance because someone changed the item meanwhile).
import { ApiError, items } from "./api";
import type { ItemList } from "./list";
import { alertError, announce, clearAlert } from "./messages";

const armedFor = 5000; // ms a first press stays armed

export function enhanceDelete(root: HTMLElement, list: ItemList): void {
  // Delegated, so rows added later by create are covered too.
  root.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.dataset.enhance !== "delete") return;
    event.preventDefault();
    const button = form.querySelector<HTMLButtonElement>("button");
    if (!button) return;
    if (button.dataset.armed !== "true") {
      arm(button, form);
      return;
    }
    disarm(button);
    void remove(form, list);
  });
}

interface Armed {
  label: Node[]; // the server-rendered label, to put back
  timer: number;
}

const armed = new WeakMap<HTMLButtonElement, Armed>();

function arm(button: HTMLButtonElement, form: HTMLFormElement): void {
  const name = form.closest("li")?.querySelector(".item-name")?.textContent ?? "this item";
  armed.set(button, {
    label: Array.from(button.childNodes, (n) => n.cloneNode(true)),
    timer: window.setTimeout(() => disarm(button), armedFor),
  });
  button.dataset.armed = "true";
  button.textContent = `Confirm delete`;
  button.classList.add("armed");
  announce(`Press again to delete “${name}”.`);
}

function disarm(button: HTMLButtonElement): void {
  const state = armed.get(button);
  if (!state) return;
  armed.delete(button);
  window.clearTimeout(state.timer);
  button.dataset.armed = "false";
  button.replaceChildren(...state.label);
  button.classList.remove("armed");
}

async function remove(form: HTMLFormElement, list: ItemList): Promise<void> {
  const row = form.closest("li");
  if (!row) return;
  const id = Number(form.dataset.id);
  const version = Number(form.dataset.version);
  const name = row.querySelector(".item-name")?.textContent ?? "the item";
  clearAlert();
  const focusAfter = list.neighbour(row);
  list.hide(row); // optimistic
  focusAfter?.focus();
  try {
    await items.remove(id, version);
    list.remove(row);
    announce(`Deleted “${name}”.`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      list.remove(row);
      announce(`“${name}” had already been deleted.`);
      return;
    }
    list.show(row); // roll back
    let message = `Could not delete “${name}”: ${err instanceof Error ? err.message : String(err)}`;
    if (err instanceof ApiError && err.status === 412) {
      // Show the item as it is now, so a second try is informed.
      try {
        const current = await items.get(id);
        list.fill(row, current);
        message = `“${name}” was changed by ${current.updated_by} since you opened this page, so it was not deleted. The list shows the current version.`;
      } catch {
        // Keep the first message.
      }
    }
    alertError(message);
    row.querySelector<HTMLElement>("a.item-name")?.focus();
  }
}
