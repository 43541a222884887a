// Create without a full reload: the quick-add form on the list page posts
// to the JSON API instead of POST /items. The row appears at once
// (optimistic) and is rolled back if the server refuses; validation
// messages land next to their fields, as the server-rendered form shows
// them. Without JavaScript the same form posts to /items.
import { ApiError, items, type FieldError } from "./api";
import type { ItemList } from "./list";
import { alertError, announce, clearAlert } from "./messages";

export function enhanceCreate(form: HTMLFormElement, list: ItemList): void {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void submit(form, list);
  });
}

async function submit(form: HTMLFormElement, list: ItemList): Promise<void> {
  const data = new FormData(form);
  const input = { name: String(data.get("name") ?? ""), description: String(data.get("description") ?? "") };
  clearAlert();
  clearFieldErrors(form);
  if (input.name.trim() === "") {
    // Same message as the server, without a round trip.
    showFieldErrors(form, [{ field: "name", message: "must not be empty" }]);
    return;
  }
  const button = form.querySelector<HTMLButtonElement>("button[type=submit]");
  if (button) button.disabled = true;
  const pending = list.addPending(input.name.trim());
  announce(`Adding “${input.name.trim()}”…`);
  try {
    const item = await items.create(input);
    list.confirm(pending, item);
    form.reset();
    announce(`Added “${item.name}”.`);
  } catch (err) {
    list.remove(pending); // roll back
    const problem = err instanceof ApiError ? err.problem : undefined;
    if (problem?.errors?.length) {
      showFieldErrors(form, problem.errors);
      announce("");
    } else {
      alertError(`Could not add “${input.name.trim()}”: ${problem?.detail ?? String(err)}`);
      announce("");
    }
  } finally {
    if (button) button.disabled = false;
  }
  form.querySelector<HTMLInputElement>("[aria-invalid=true]")?.focus() ?? focusFirst(form);
}

function focusFirst(form: HTMLFormElement): void {
  form.querySelector<HTMLInputElement>("input:not([type=hidden])")?.focus();
}

const labels: Record<string, string> = { name: "Name", description: "Description" };

function showFieldErrors(form: HTMLFormElement, errors: FieldError[]): void {
  for (const e of errors) {
    const input = form.elements.namedItem(e.field);
    if (!(input instanceof HTMLInputElement || input instanceof HTMLTextAreaElement)) continue;
    const id = `${input.id}-error`;
    const p = document.createElement("p");
    p.className = "field-error";
    p.id = id;
    p.textContent = `${labels[e.field] ?? e.field} ${e.message}.`;
    input.before(p);
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", id);
    input.closest(".field")?.classList.add("invalid");
  }
  form.querySelector<HTMLElement>("[aria-invalid=true]")?.focus();
}

function clearFieldErrors(form: HTMLFormElement): void {
  form.querySelectorAll(".field-error").forEach((p) => p.remove());
  form.querySelectorAll(".field.invalid").forEach((f) => f.classList.remove("invalid"));
  form.querySelectorAll("[aria-invalid]").forEach((el) => {
    el.removeAttribute("aria-invalid");
    el.removeAttribute("aria-describedby");
  });
}
