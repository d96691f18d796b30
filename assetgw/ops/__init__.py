"""Operations tools: replay, dead letters, lag, rebuild."""
