// Fictional names built from syllables, so no fact in a generated world can be answered from memory.
import type { Rng } from "./rng.ts";

const ONSETS = ["b", "br", "c", "d", "dr", "f", "g", "gr", "h", "k", "kr", "l", "m", "n", "p", "r", "s", "st", "t", "th", "tr", "v", "vr", "z", "sh", "ch", "j", "y", "w"] as const;
const VOWELS = ["a", "e", "i", "o", "u", "ai", "ei", "ou", "ia", "io", "y"] as const;
const CODAS = ["", "", "", "n", "r", "l", "s", "m", "th", "k", "nd", "rn", "sk", "v", "x"] as const;
const FIRST_ENDINGS = ["a", "o", "el", "en", "ia", "is", "an", "ira", "ov", "eth", "ine", "as"] as const;
const SURNAME_ENDINGS = ["ova", "ez", "sson", "ski", "ard", "ell", "mann", "ari", "elli", "enko", "strom", "ouri", "ay", "ton", "well", "ani"] as const;
const PLACE_ENDINGS = ["holm", "port", "vale", "ford", "mouth", "stad", "grad", "ia", "burg", "haven", "moor", "ridge", "wick", "ora", "ene", "sund"] as const;

const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

function syllable(rng: Rng, coda: boolean): string {
  return rng.pick(ONSETS) + rng.pick(VOWELS) + (coda ? rng.pick(CODAS) : "");
}

/** A pronounceable root of 1-3 syllables, lower-case. */
export function root(rng: Rng, min = 1, max = 2): string {
  const n = rng.int(min, max);
  let out = "";
  for (let i = 0; i < n; i++) out += syllable(rng, i === n - 1);
  return out;
}

export const personName = (rng: Rng): string =>
  `${cap(root(rng, 1, 2) + rng.pick(FIRST_ENDINGS))} ${cap(root(rng, 1, 2) + rng.pick(SURNAME_ENDINGS))}`;

export const placeName = (rng: Rng): string => cap(root(rng, 1, 2) + rng.pick(PLACE_ENDINGS));

export const countryName = (rng: Rng): string => {
  const base = cap(root(rng, 2, 2));
  return rng.pick([`${base}ia`, `${base}and`, `Republic of ${base}`, `${base}istan`, `${base}ora`]);
};

const ADJECTIVES = ["Crimson", "Silent", "Hollow", "Golden", "Distant", "Broken", "Velvet", "Northern", "Bitter", "Quiet", "Burning", "Pale", "Hidden", "Restless", "Amber", "Iron", "Salt", "Winter", "Glass", "Wild", "Lantern", "Copper", "Midnight", "Scarlet", "Paper"] as const;
const NOUNS = ["Harbor", "Meridian", "Orchard", "Tide", "Garden", "Letters", "Frontier", "Compass", "Lighthouse", "Season", "Echo", "Horizon", "River", "Crown", "Signal", "Mirror", "Voyage", "Ashes", "Covenant", "Archive", "Station", "Parade", "Monsoon", "Ledger", "Canopy"] as const;

/** A work title (film, book, album): mixes common words with a made-up name so titles rarely repeat. */
export function workTitle(rng: Rng): string {
  const name = cap(root(rng, 2, 2));
  switch (rng.int(0, 4)) {
    case 0:
      return `${rng.pick(ADJECTIVES)} ${rng.pick(NOUNS)} of ${name}`;
    case 1:
      return `The ${name} ${rng.pick(NOUNS)}`;
    case 2:
      return `${name}'s ${rng.pick(NOUNS)}`;
    case 3:
      return `${rng.pick(ADJECTIVES)} ${name}`;
    default:
      return `The ${rng.pick(ADJECTIVES)} ${rng.pick(NOUNS)} at ${name}`;
  }
}

/** A name with a kind word: "Velcor Studios", "Hotel Mirath". */
export function brandName(rng: Rng, suffixes: readonly string[], prefixes: readonly string[] = []): string {
  const base = cap(root(rng, 1, 2) + (rng.chance(0.5) ? rng.pick(["a", "o", "ex", "ar", "is", "on"]) : ""));
  if (prefixes.length > 0 && rng.chance(0.4)) return `${rng.pick(prefixes)} ${base}`;
  return `${base} ${rng.pick(suffixes)}`;
}

/** A flight number: two letters and three or four digits. */
export function flightCode(rng: Rng): string {
  const letters = "ABCDEFGHJKLMNPRSTVWXZ";
  return `${letters[rng.int(0, letters.length - 1)]}${letters[rng.int(0, letters.length - 1)]} ${rng.int(100, 9899)}`;
}

export const capitalize = cap;
