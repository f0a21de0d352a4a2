from crmdr.cli import main

main()
