from corridos.cli.main import main

main()
