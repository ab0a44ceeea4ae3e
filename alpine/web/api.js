// Calls to Alpine's subscriber API with the bearer token in a header (never in a URL).

/** Alpine answered 401: the token is unknown or was revoked. */
export class Unauthorized extends Error {}

/** Any other failure, with the HTTP status when there was an answer. */
export class ApiError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.status = status;
  }
}

const RETRIES_ON_429 = 3;

export function wait(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function detail(response) {
  try {
    const body = await response.json();
    return typeof body.detail === "string" ? body.detail : response.statusText;
  } catch {
    return response.statusText;
  }
}

export function retryAfterMs(response, fallback) {
  const seconds = Number(response.headers.get("Retry-After"));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : fallback;
}

export class Api {
  #token;

  constructor(token) {
    this.#token = token;
  }

  /** Headers for a request of this session; `extra` adds to them. */
  headers(extra = {}) {
    return { Authorization: `Bearer ${this.#token}`, ...extra };
  }

  /** GET `path` with query `params` (empty ones left out); the parsed JSON body. */
  async get(path, params = {}) {
    const url = new URL(path, window.location.origin);
    for (const [key, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
    }
    for (let attempt = 0; ; attempt += 1) {
      let response;
      try {
        response = await fetch(url, {
          headers: this.headers({ Accept: "application/json" }),
          cache: "no-store",
          credentials: "omit",
        });
      } catch (error) {
        throw new ApiError(`Alpine is unreachable (${error.message})`);
      }
      if (response.status === 401) throw new Unauthorized(await detail(response));
      if (response.status === 429 && attempt < RETRIES_ON_429) {
        await wait(retryAfterMs(response, 1000));
        continue;
      }
      if (!response.ok) throw new ApiError(await detail(response), response.status);
      return response.json();
    }
  }
}
