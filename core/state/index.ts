// What other blocks (actors, workflow) use from the state block: the store interface, the
// policy-wrapped store handle, key helpers, and the service that finds the actor state store.
export * from './component.js';
export { KeyPrefixer, KEY_SEPARATOR, actorStateKey, originalKey } from './keys.js';
export { StateService, type SaveItem } from './service.js';
export { StoreHandle } from './store-handle.js';
export { ActorStateStore, openActorStateStore, type ActorStateOperation } from './actor-state.js';
