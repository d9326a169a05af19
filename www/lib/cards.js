// The shelf's product cards: what a card says (`cardView`, no DOM) and the card element built from
// it, either the built-in card or a clone of the page's `<template>`. Text goes in as text (never as
// HTML), so catalog fields cannot inject markup.

import { categoryLabel } from './catalog.js';
import { fill } from './strings.js';

/**
 * Everything a card displays, as plain data. Two cards with equal views look the same, so the shelf
 * keeps the existing element (and the keyboard focus inside it) when the view has not changed.
 */
export function cardView(item, ctx) {
  const p = item.product;
  const currency = p.currency ?? ctx.currency;
  const effective = p.salePrice ?? p.price;
  const price = ctx.prices.format(effective, currency);
  const regular = p.salePrice != null ? ctx.prices.format(p.price, currency) : null;
  const s = ctx.strings;
  return {
    id: item.id,
    title: p.title,
    href: p.url ?? (ctx.hrefTemplate ? ctx.hrefTemplate.replaceAll('{id}', encodeURIComponent(item.id)) : null),
    image: p.image,
    category: categoryLabel(p, ctx.categoryNames),
    rawCategory: p.category ?? '',
    brand: p.brand,
    price,
    regularPrice: regular,
    priceLabel: regular ? fill(s.salePrice, { price }) : price,
    regularLabel: regular ? fill(s.regularPrice, { price: regular }) : null,
    availability: p.availability === 'preorder' ? s.preorder : p.availability === 'backorder' ? s.backorder : null,
    badges: p.badges,
    reason: item.reason ?? null,
    addToCart: ctx.addToCart ? { text: s.addToCart, label: fill(s.addToCartLabel, { name: p.title }) } : null,
  };
}

const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    e.setAttribute(k, v === true ? '' : String(v));
  }
  e.append(...children.filter((c) => c != null && c !== ''));
  return e;
};

function priceNodes(view) {
  if (!view.price) return [];
  if (!view.regularPrice) return [el('span', { class: 'price', part: 'price' }, view.price)];
  // Sighted shoppers see "€8.00 €10.00" (the second struck through); screen readers hear the labels.
  return [
    el('span', { class: 'price sale', part: 'price sale-price', 'aria-hidden': 'true' }, view.price),
    el('s', { class: 'regular', part: 'regular-price', 'aria-hidden': 'true' }, view.regularPrice),
    el('span', { class: 'sr' }, `${view.priceLabel}, ${view.regularLabel}`),
  ];
}

function builtInCard(view) {
  const img = view.image
    ? // `loading` before `src`: an image already in the memory cache (every page load after the
      // first) is fetched as soon as `src` is set on an element that is not lazy yet.
      el('img', { class: 'image', part: 'image', loading: 'lazy', decoding: 'async', alt: '', width: 240, height: 180, src: view.image })
    : null;
  const badges = view.badges.length
    ? el('span', { class: 'badges', part: 'badges' }, ...view.badges.map((b) => el('span', { class: 'badge', part: 'badge' }, b)))
    : null;
  const body = el(
    'span',
    { class: 'body', part: 'body' },
    badges,
    view.category ? el('span', { class: 'category', part: 'category' }, view.category) : null,
    view.brand ? el('span', { class: 'brand', part: 'brand' }, view.brand) : null,
    el('span', { class: 'name', part: 'name' }, view.title),
    view.price ? el('span', { class: 'prices', part: 'prices' }, ...priceNodes(view)) : null,
    view.availability ? el('span', { class: 'availability', part: 'availability' }, view.availability) : null,
    view.reason ? el('span', { class: 'reason', part: 'reason' }, view.reason) : null,
  );
  const link = view.href
    ? el('a', { class: 'link', part: 'link', href: view.href }, img, body)
    : el('button', { class: 'link', part: 'link', type: 'button' }, img, body);
  const add = view.addToCart
    ? el('button', { class: 'add', part: 'add-to-cart', type: 'button', 'aria-label': view.addToCart.label }, view.addToCart.text)
    : null;
  return [link, add];
}

/** Fills a clone of the page's template: elements named by `data-field` get the card's data. */
function templateCard(view, template) {
  const frag = template.content.cloneNode(true);
  for (const s of frag.querySelectorAll('style')) s.remove(); // adopted once per shelf instead
  for (const node of frag.querySelectorAll('[data-field]')) {
    const field = node.getAttribute('data-field');
    let shown = true;
    switch (field) {
      case 'link':
        if (view.href && node.localName === 'a') node.setAttribute('href', view.href);
        node.classList.add('link');
        break;
      case 'image':
        shown = !!view.image;
        if (shown) {
          if (!node.hasAttribute('loading')) node.setAttribute('loading', 'lazy'); // before `src`, as above
          if (!node.hasAttribute('alt')) node.setAttribute('alt', '');
          node.setAttribute('src', view.image);
        }
        break;
      case 'title':
      case 'name':
        node.textContent = view.title;
        break;
      case 'price':
        shown = !!view.price;
        node.textContent = view.price ?? '';
        if (view.regularPrice) node.setAttribute('aria-label', view.priceLabel);
        break;
      case 'regular-price':
        shown = !!view.regularPrice;
        node.textContent = view.regularPrice ?? '';
        if (view.regularLabel) node.setAttribute('aria-label', view.regularLabel);
        break;
      case 'badges':
        shown = view.badges.length > 0;
        node.replaceChildren(...view.badges.map((b) => el('span', { class: 'badge', part: 'badge' }, b)));
        break;
      case 'add-to-cart':
        shown = !!view.addToCart;
        node.classList.add('add');
        if (view.addToCart) {
          if (!node.textContent.trim()) node.textContent = view.addToCart.text;
          node.setAttribute('aria-label', view.addToCart.label);
          if (node.localName === 'button' && !node.hasAttribute('type')) node.setAttribute('type', 'button');
        }
        break;
      case 'category':
      case 'brand':
      case 'reason':
      case 'availability':
        shown = !!view[field];
        node.textContent = view[field] ?? '';
        break;
      default:
        break; // an unknown field: left as the template has it
    }
    if (!shown) node.hidden = true;
  }
  return [...frag.childNodes];
}

/**
 * A card element for `view` at 1-based `rank`.
 * @param {HTMLTemplateElement|null} template the page's card template, or null for the built-in card
 */
export function buildCard(view, rank, template, fresh) {
  const card = el('div', {
    class: fresh ? 'card fresh' : 'card',
    part: 'card',
    role: 'listitem',
    'data-id': view.id,
    'data-category': view.rawCategory,
    'data-rank': rank,
  });
  card.append(...(template ? templateCard(view, template) : builtInCard(view)).filter(Boolean));
  return card;
}

/** The element inside `card` that plays the same part as `like` did in its old card (for focus). */
export function counterpart(card, like) {
  if (!like) return null;
  if (like.classList?.contains('add')) return card.querySelector('.add');
  return card.querySelector('.link') ?? card.querySelector('a, button');
}
