// What a click on a citation marker [n] does (rag/present/static/cite.js). ui.py gives this to the chat's
// gr.HTML as js_on_load: it runs once, `element` is the component's root, and the one delegated listener
// survives every re-render of the conversation. It shows the turn's article view n (the cited slice is the
// <mark>) and hides the others.
element.addEventListener('click', (event) => {
  const link = event.target.closest('a.rag-cite');
  if (!link || !element.contains(link)) return;
  event.preventDefault();
  const turn = link.closest('.rag-turn');
  if (!turn) return;
  const n = link.dataset.cite;
  for (const v of turn.querySelectorAll('.rag-viewer')) v.hidden = v.dataset.cite !== n;
  for (const a of turn.querySelectorAll('a.rag-cite')) a.classList.toggle('rag-active', a.dataset.cite === n);
  const mark = turn.querySelector('.rag-viewer[data-cite="' + n + '"] mark');
  if (mark) mark.scrollIntoView({block: 'center'});
});
