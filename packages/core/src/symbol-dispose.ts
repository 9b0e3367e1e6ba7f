// Declares Symbol.dispose for TypeScript consumers whose `lib` lacks ESNext.Disposable (the declaration @types/node also makes).
declare global {
  interface SymbolConstructor {
    /** The method `using` calls when a block ends (TC39 explicit resource management). */
    readonly dispose: unique symbol;
  }
}

export {};
