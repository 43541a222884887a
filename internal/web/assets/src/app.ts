// Progressive enhancement of the server-rendered pages. Every page works
// without this script; with it, the list page creates and deletes items
// through the JSON API without a full reload. Grow it the same way: find
// server-rendered markup by data-enhance, keep the plain form working, and
// roll back optimistic changes on error.
import { enhanceCreate } from "./create";
import { enhanceDelete } from "./delete";
import { ItemList } from "./list";

function main(): void {
  const list = ItemList.find();
  if (!list) return;
  document.querySelectorAll<HTMLFormElement>("form[data-enhance=create]").forEach((f) => enhanceCreate(f, list));
  const main = document.getElementById("main");
  if (main) enhanceDelete(main, list);
  document.documentElement.dataset.enhanced = "true";
}

main();
